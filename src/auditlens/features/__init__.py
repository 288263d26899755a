"""Behavioural features per (user, window): temporal, resources, access context, peers."""
