"""The `anomalywatch` command-line tool."""
