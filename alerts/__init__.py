"""Bearwatch alerts stage: rules, the event-time detector, the alert lifecycle, the notify agent and delivery.

Import what you need from its module (``alerts.detector.Detector``, ``alerts.rules.load_rules``,
``alerts.delivery.notifier.Notifier``): no re-exports here, so go-to-definition lands on the code and importing
``alerts`` stays free.
"""
