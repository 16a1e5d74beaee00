"""What people do: answering a card (`answering`, the use case every surface calls), the checks
on an answer (`decisions`), who may start and cancel runs (`access`), what a person sees of a card
(`card_view`), SLAs (`sla`) and webhook notifications (`notify`). Uses board/ and spec/; never
LangGraph: recording an answer stays instant.
"""
