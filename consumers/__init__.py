"""Bearwatch consumers stage."""
