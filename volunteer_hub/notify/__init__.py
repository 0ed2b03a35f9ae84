"""Notifications: a transactional outbox, channels (inbox, e-mail, SMS, Web Push), dispatcher.

Other features call `services.enqueue(...)` inside their own transaction; `volunteer-hub
worker` sends what was committed. See docs in dispatcher.py for the delivery guarantees.
"""
