"""The operations console: pages for dispatchers, departments and supervisors (docs/CONSOLE.md)."""
