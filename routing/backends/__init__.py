"""Backends: observe a server and run the ops they own; they never decide."""
