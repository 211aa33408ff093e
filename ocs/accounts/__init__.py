"""Users, groups, passwords and the occ command."""
