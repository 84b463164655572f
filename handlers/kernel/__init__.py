"""What every flow stands on: incoming messages, replies, the turn, i18n, the flow router."""
