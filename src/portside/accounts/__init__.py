"""Users, teams, namespaces and personal tokens: who may see, pull, push and delete what."""
