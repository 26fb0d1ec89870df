"""Message stores: one async protocol, backends memory, sqlite, postgres, redis."""
