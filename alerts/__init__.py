"""Bearwatch alerts stage."""
