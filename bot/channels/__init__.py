"""Channel adapters: each turns its transport's input into the core's incoming messages and renders replies."""
