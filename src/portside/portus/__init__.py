"""Bringing a Portus installation over: read (its database), plan (pure), apply, cli."""
