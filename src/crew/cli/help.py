"""`--help` with conventional metavars: `--inputs PATH`, `--limit INTEGER`, `crew run PLAYBOOK`.

Since typer 0.29 (its "Update metavar printing" change) help names a value by its Python type in
angle brackets (`<str>`, `<bool>`, `<path>`, `<int range>`), shows a type for boolean flags, which
take no value, and writes a required argument as `{playbook}` in the usage line. Users of command
lines expect click's names (TEXT, PATH, INTEGER, FLOAT, [a|b]), no metavar on a flag, and
`PLAYBOOK` in the usage line. Typer has no setting for it, so crew's root group (`CrewGroup`, the
app's `cls`) shows every command's parameters through `ConventionalOption` and
`ConventionalArgument`: the same typer parameters, named the conventional way. An explicit
`metavar=` (`SECONDS`, `RUN`) still wins. Parsing is untouched: only what help prints changes.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# `ctx` is typer's own click Context (typer 0.29 vendors click): typed Any here.

__all__ = ["ConventionalArgument", "ConventionalOption", "CrewCommand", "CrewGroup"]

_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def _type_name(param: TyperOption | TyperArgument) -> str:
    """click's name for the value a parameter takes (TEXT, INTEGER, PATH, [md|json|yaml])."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_path:
        return "PATH"
    if desc.is_datetime:
        return "[" + "|".join(desc.parameter_info.formats or ("DATETIME",)) + "]"
    annotation: Any = desc.annotation
    if desc.is_list:
        annotation = (getattr(annotation, "__args__", None) or (str,))[0]
    return _NAMES.get(annotation, "TEXT")


class ConventionalOption(TyperOption):
    """A typer option shown as click shows it: `--limit INTEGER`, `--json` (a flag: no metavar)."""

    def display_type(self, ctx: Any) -> str:
        return "" if self.is_flag else _type_name(self)


class ConventionalArgument(TyperArgument):
    """A typer argument shown as click shows it: `PLAYBOOK` (optional: `[DIR]`), type TEXT."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else (self.name or "").upper()

    def display_type(self, ctx: Any) -> str:
        return _type_name(self)

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return [name + ("..." if self.nargs != 1 else "")]


def _conventional(params: list[Any]) -> list[Any]:
    # The parameters typer built, shown through the subclasses above (which add no state: only
    # how help names them), so every command and its --help option get them.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = ConventionalOption
        elif type(param) is TyperArgument:
            param.__class__ = ConventionalArgument
    return params


class CrewCommand(TyperCommand):
    """A typer command whose help uses conventional metavars."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))


class CrewGroup(TyperGroup):
    """crew's root group (and its sub-groups): conventional metavars in every command's help."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _adopt(self)

    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))


def _adopt(group: TyperGroup) -> None:
    # Typer builds sub-groups (`crew new`, `crew server`) and commands before the group that
    # holds them, as plain TyperGroup/TyperCommand: convert them (no state added, as above).
    for command in group.commands.values():
        if type(command) is TyperCommand:
            command.__class__ = CrewCommand
        elif type(command) is TyperGroup:
            command.__class__ = CrewGroup
            _adopt(command)
