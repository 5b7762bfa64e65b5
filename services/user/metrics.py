"""Business counters of the user service."""
from prometheus_client import Counter, Gauge

REGISTRATIONS = Counter("repitbot_user_registrations_total", "Accounts created, by role", ["role"])
LOGINS = Counter("repitbot_user_logins_total", "Password logins, by outcome (success, failed, throttled)",
                 ["outcome"])
REFRESHES = Counter("repitbot_user_token_refreshes_total",
                    "Refresh token presentations, by outcome (rotated, reused, revoked, expired, unknown)",
                    ["outcome"])
REFRESH_REUSES = Counter("repitbot_user_refresh_token_reuse_detected_total",
                         "Spent refresh tokens presented again (their families were revoked)")
LINKS = Counter("repitbot_user_links_total", "Links made, by kind (teacher, parent, telegram)", ["kind"])
KEY_ROTATIONS = Counter("repitbot_user_signing_key_rotations_total", "Signing key rotations")
PASSWORD_HASHING_WAITING = Gauge("repitbot_user_password_hashing_waiting",
                                 "Password hashes waiting for a hashing thread")
PASSWORD_HASHING_REFUSED = Counter("repitbot_user_password_hashing_refused_total",
                                   "Logins and registrations refused with 503: too many hashes waiting")
BOT_SESSIONS = Counter("repitbot_user_bot_sessions_total",
                       "The bot's calls for a linked chat, by outcome (issued, refused, unlinked)", ["outcome"])
