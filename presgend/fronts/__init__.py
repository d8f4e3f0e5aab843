"""How people and programs reach presgend: the CLI, HTTP with its web page, MCP."""
