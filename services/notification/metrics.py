"""Business counters of the notification service."""
from prometheus_client import Counter

_LABELS = ["channel", "kind"]
SENT = Counter("repitbot_notifications_sent_total",
               "Notifications delivered, by channel (in_app, email, telegram) and kind", _LABELS)
FAILED = Counter("repitbot_notifications_failed_total",
                 "Deliveries that failed for good, by channel and kind", _LABELS)
RETRIED = Counter("repitbot_notifications_retried_total",
                  "Delivery attempts that failed and were scheduled again", _LABELS)
SKIPPED = Counter("repitbot_notifications_skipped_total",
                  "Deliveries not sent: no address on the channel, channel off, too late", _LABELS)
HELD = Counter("repitbot_notifications_held_total",
               "Deliveries postponed to the end of the recipient's quiet hours", _LABELS)
REMINDERS = Counter("repitbot_lesson_reminders_total",
                    "Due lesson reminders by outcome (sent, stale, cancelled)", ["outcome"])
DISPATCH_ERRORS = Counter("repitbot_notification_dispatch_errors_total",
                          "Dispatcher rounds that ended in an error")
WITHHELD = Counter("repitbot_notifications_withheld_total",
                   "Notifications not made because the account is deactivated", ["kind"])
HOMEWORK_REMINDERS = Counter("repitbot_homework_reminders_total",
                             "Due homework reminders by outcome (sent, stale, cancelled)", ["outcome"])
