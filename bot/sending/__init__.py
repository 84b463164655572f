"""Everything Ponte sends outside a direct reply, on any channel, within the channel's limits."""
