"""Channel adapters: each turns its transport's input into core events and renders replies."""
