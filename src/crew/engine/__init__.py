"""The engine: a playbook becomes a LangGraph graph (`graph`), and runs are driven: started,
resumed, cancelled, under a run lease (`runtime`, `lease`), with every step a card on the board
(`steps`); `retention` keeps the board bounded. Uses agents/, people/, board/, persistence/, spec/.

Import from the modules (`crew.engine.runtime`), or the public names from `crew`.
"""
