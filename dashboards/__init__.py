"""Bearwatch dashboards stage."""
