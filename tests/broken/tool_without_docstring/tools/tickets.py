"""Tickets of the help desk."""


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    return {"id": ticket_id, "status": "open"}
