"""The requesters: the backup agent, restore, archives and instant recovery."""
