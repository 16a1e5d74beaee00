def lookup_ticket(ticket: int) -> dict:
    """Look a ticket up."""
    return {"ticket": ticket}
