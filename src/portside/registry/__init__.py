"""The registry: its HTTP API behind one client (client.py), auth, and image formats."""
