"""Matchmaking: events, suggested partners, meeting requests, meetings and the agenda."""
