"""The operators' tools: the `onestop` command (tokens, audit, dead letters, demo)."""
