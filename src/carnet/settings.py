"""Django settings for Carnet: environment variables only (django-environ).

With nothing set, everything runs on the embedded default: SQLite and blobs under
`var/`, tasks in the database, email and SMS held in the outbox. Secrets that are
missing in that mode are generated once into `var/` (never committed).
"""

import json
import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()

VAR_DIR = Path(env("CARNET_VAR_DIR", default=str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


# The secrets read from var/ rather than the environment: `carnet check --deploy` warns about
# them (in production they come from the deployment's secret store, not a node's disk).
LOCAL_SECRETS: list[str] = []


def _local_secret(name: str, make) -> str:
    """Read a secret kept in var/ for the embedded mode, creating it once (mode 0600)."""
    LOCAL_SECRETS.append(name)
    path = VAR_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


DEBUG = env.bool("CARNET_DEBUG", default=False)
DEMO_MODE = env.bool("CARNET_DEMO", default=False)
SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
# During a rotation of SECRET_KEY, the former key(s): sessions and signed values made with them
# are still accepted (each session then gets a new id); remove them after the idle timeout.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Key for the keyed hash of codes and tokens (DESIGN invariant 4).
CARNET_HMAC_KEY = env("CARNET_HMAC_KEY", default=None) or _local_secret(
    "hmac_key", lambda: secrets.token_hex(32)
)
# Key-encryption keys: JSON object {"key id": "base64 of 32 bytes"}; the last id is used
# for new writes, the others only to unwrap (rotation).
CARNET_KEYS = json.loads(
    env("CARNET_KEYS", default=None)
    or _local_secret(
        "keys.json",
        lambda: json.dumps(
            {"k1": __import__("base64").b64encode(secrets.token_bytes(32)).decode()}
        ),
    )
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Number of our own reverse proxies in front of the web nodes (see core.http.client_address).
CARNET_PROXY_COUNT = env.int("CARNET_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
    "carnet.core",
    "carnet.audit",
    "carnet.registry",
    "carnet.accounts",
    "carnet.enrollment",
    "carnet.notifications",
    "carnet.profile",
    "carnet.documents",
    "carnet.professionals",
    "carnet.consent",
    "carnet.agenda",
    "carnet.messaging",
    "carnet.family",
    "carnet.catalogue",
    "carnet.fhir",
    "carnet.sharing",
    "carnet.exports",
    "carnet.federation",
    "oauth2_provider",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
]

MIDDLEWARE = [
    # First: every log line of the request, and the response, carry its id.
    "carnet.core.logs.RequestIdMiddleware",
    "carnet.core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files carry the security headers too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "carnet.core.middleware.PermissionsPolicyMiddleware",
    # Before anything reads the body: an oversize one is refused unread (with the headers above).
    "carnet.core.middleware.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Fail closed: every view needs a login unless it opts out with @login_not_required.
    "carnet.accounts.middleware.AreaLoginRequiredMiddleware",
    "carnet.accounts.middleware.AccountKindMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The linked profile the patient acts for (the profile switcher), checked at each request.
    "carnet.family.middleware.ActingProfileMiddleware",
]

ROOT_URLCONF = "carnet.urls"
WSGI_APPLICATION = "carnet.wsgi.application"
LOGIN_URL = "/connexion/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "carnet.core.context_processors.service",
                "carnet.core.sessions.timing",
            ],
            # Our `{% url %}`, which reverses each fixed link once per process, our filters, and
            # `{% options %}` for the choices of a <select>.
            "builtins": [
                "carnet.core.templatetags.carnet_urls",
                "carnet.core.templatetags.carnet_format",
                "carnet.core.templatetags.carnet_forms",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'carnet.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker and the web server use the same file; IMMEDIATE avoids
    # lock upgrades failing under concurrent writers.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Persistent connections, checked before reuse: a new PostgreSQL connection per request
    # (Django's default) forks a server process and authenticates, several milliseconds of
    # CPU and waiting, more than most of our pages (bench/load.py). A restarted server costs
    # one reconnection. SQLite keeps one connection per request: opening it is cheap, and a
    # restore replaces its file.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CARNET_DB_CONN_MAX_AGE", default=600))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements: psycopg prepares a statement run 5 times on a connection, and
    # PostgreSQL then skips its parsing and planning — half the server's CPU of a documents
    # list (bench/load.py). They need server-side parameter binding, and a connection pooler
    # in transaction mode that keeps them (PgBouncer 1.21+, max_prepared_statements); with an
    # older one, CARNET_DB_PREPARED_STATEMENTS=0.
    postgresql = DATABASES["default"]["ENGINE"].endswith("postgresql")
    if postgresql and env.bool("CARNET_DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # JSON, never pickle: a value read back from Redis (a session) must not be able
            # to run code on the web nodes.
            "OPTIONS": {
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                # Sessions and cache answer in milliseconds: a Redis that does not is down.
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "carnet_cache",
        }
    }
# Sessions are server-side: in the database by default; with REDIS_URL, in Redis through the
# cache (every web node sees the same sessions, and ending one deletes it at once).
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cache" if REDIS_URL else "django.contrib.sessions.backends.db"
)
# Idle timeout: a session unused for 30 minutes ends (shared computers, health data). Activity
# renews it — the session saved again with its cookie — at most once per SESSION_SEEN_INTERVAL
# (carnet.core.sessions), not on every request: a write to the session store per page view for
# a deadline that moves by seconds. The absolute lifetime is enforced by
# carnet.accounts.middleware.
SESSION_COOKIE_AGE = env.int("CARNET_SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = False

# The task queue: in the database by default; with REDIS_URL, on Redis through RQ
# (django-tasks-rq), worked by `carnet worker` on every worker node. The queue only speeds work
# up: the outbox and the exports are rows, which the sweeps pick up again whatever Redis lost.
TASKS = {
    "default": {
        "BACKEND": env(
            "CARNET_TASKS_BACKEND",
            default="django_tasks_rq.RQBackend" if REDIS_URL else "django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default"],
    }
}
# Jobs in Redis as JSON, never pickle: whoever could write to Redis must not run code on the
# workers (a task's arguments are ids, JSON by django.tasks' rules).
RQ_SERIALIZER = "rq.serializers.JSONSerializer"
RQ_QUEUES = {
    "default": {
        "URL": REDIS_URL or "redis://127.0.0.1:6379/0",
        "DEFAULT_TIMEOUT": 900,
        "SERIALIZER": RQ_SERIALIZER,
    }
}
RQ_SHOW_ADMIN_LINK = False

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "carnet.accounts.passwords.LengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "carnet.accounts.passwords.NotPersonalValidator"},
]

LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns when it is missing, even before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Browser security (docs/adr/0011) ------------------------------------------------------
# Cookies are Secure and "__Host-" prefixed (HTTPS only, this host only, path /) unless secure
# cookies are off: demo mode on http://127.0.0.1, tests, or CARNET_SECURE_COOKIES=0. A browser
# rejects a "__Host-" cookie without Secure, hence the plain names then.
SECURE_COOKIES = env.bool("CARNET_SECURE_COOKIES", default=not DEMO_MODE)


def cookie_settings(*, secure: bool) -> dict:
    prefix = "__Host-" if secure else ""
    return {
        "SESSION_COOKIE_NAME": f"{prefix}sessionid",
        "SESSION_COOKIE_SECURE": secure,
        "CSRF_COOKIE_NAME": f"{prefix}csrftoken",
        "CSRF_COOKIE_SECURE": secure,
    }


vars().update(cookie_settings(secure=SECURE_COOKIES))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_PATH = "/"  # "__Host-" requires path / and no domain
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_HTTPONLY = True  # the idle-warning script reads the token from the page's forms
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_PATH = "/"
CSRF_COOKIE_DOMAIN = None
CSRF_FAILURE_VIEW = "carnet.core.views.csrf_failure"

# HTTPS only, for a year, subdomains included (not in demo mode, which runs on plain HTTP).
SECURE_HSTS_SECONDS = 0 if DEMO_MODE else env.int("CARNET_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("CARNET_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
# Plain HTTP is sent to HTTPS whenever the cookies are secure (not in the demo or the tests);
# the load balancer's probes stay on plain HTTP inside the network.
SECURE_SSL_REDIRECT = env.bool("CARNET_SSL_REDIRECT", default=SECURE_COOKIES)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if CARNET_PROXY_COUNT > 0:
    # TLS ends at our own proxy, which sets X-Forwarded-Proto (see core.http.client_address).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Strict Content-Security-Policy (django-csp): our own files only, no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
# Browser features no page of ours uses (carnet.core.middleware.PermissionsPolicyMiddleware).
PERMISSIONS_POLICY = {
    "camera": [],
    "microphone": [],
    "geolocation": [],
    "payment": [],
    "usb": [],
}

# Email: EMAIL_URL (smtp://user:pass@host:port, smtp+tls://…) sends for real;
# without it messages stay held in the outbox.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Carnet <ne-pas-repondre@carnet.example>")
# SMS: SMS_URL (https://… JSON gateway); without it SMS stay held in the outbox.
SMS_URL = env("SMS_URL", default="")

BLOB_DIR = Path(env("CARNET_BLOB_DIR", default=str(VAR_DIR / "blobs")))
# Where sealed blobs go: empty for BLOB_DIR, file:///path, or s3://KEY:SECRET@host/bucket
# (see carnet.core.stores).
STORAGE_URL = env("STORAGE_URL", default="")

# Uploads stay in memory, never in a temporary file: a plaintext health document must not
# touch the disk. The body limit (carnet.core.middleware.BodySizeLimitMiddleware) is checked
# from Content-Length before anything is read.
DOCUMENT_MAX_BYTES = 5_000_000
UPLOAD_BODY_OVERHEAD = 64 * 1024  # the form's other fields and the multipart boundaries
# A message carries up to 10 attachments and 20 MB: its pages take a larger body, the others
# stay at one document.
MESSAGE_BODY_MAX_BYTES = 20 * 1024 * 1024
MESSAGE_BODY_PATHS = r"^/(messagerie|pro/patients/[^/]+/messages)/"
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = MESSAGE_BODY_MAX_BYTES + UPLOAD_BODY_OVERHEAD
# Flash messages may name a document: kept in the server-side session, never in a cookie
# (the default cookie storage is signed, not encrypted).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LETTERS_DIR = Path(env("CARNET_LETTERS_DIR", default=str(VAR_DIR / "letters")))

# gunicorn processes per web node (`carnet serve`): about one per core plus one, as measured by
# bench/load.py (docs/operations.md, « Dimensionnement »).
WEB_WORKERS = env.int("CARNET_WEB_WORKERS", default=2)

# Prometheus's bearer token for /metrics (carnet.core.metrics); unset, /metrics answers 404.
METRICS_TOKEN = env("CARNET_METRICS_TOKEN", default="")

SERVICE_NAME = "Carnet"
SERVICE_URL = env("CARNET_URL", default="http://127.0.0.1:8000")

# Passkeys (WebAuthn): the relying party is the site's domain (a name, never an IP address:
# browsers refuse one), and an assertion is accepted only from these origins.
WEBAUTHN_RP_ID = env("CARNET_WEBAUTHN_RP_ID", default="localhost")
WEBAUTHN_RP_NAME = env("CARNET_WEBAUTHN_RP_NAME", default="Carnet")
WEBAUTHN_ORIGINS = env.list("CARNET_WEBAUTHN_ORIGINS", default=["http://localhost:8000"])

# Identity federation by OpenID Connect (carnet.federation, ADR 0022). A provider is on when
# its discovery URL and client id are set; nothing about the providers is written in code.
FEDERATION_PROVIDERS = {
    "franceconnect": {
        "name": "FranceConnect+",
        "kind": "usager",
        "metadata_url": env("FRANCECONNECT_METADATA_URL", default=""),
        "client_id": env("FRANCECONNECT_CLIENT_ID", default=""),
        "client_secret": env("FRANCECONNECT_CLIENT_SECRET", default=""),
        "scope": env(
            "FRANCECONNECT_SCOPE",
            default="openid given_name family_name birthdate gender birthplace birthcountry",
        ),
        # The substantial level (eIDAS "substantiel"), asked for and checked in the ID token.
        "acr_values": env.list("FRANCECONNECT_ACR_VALUES", default=["eidas2"]),
    },
    "prosanteconnect": {
        "name": "Pro Santé Connect",
        "kind": "professionnel",
        "metadata_url": env("PROSANTECONNECT_METADATA_URL", default=""),
        "client_id": env("PROSANTECONNECT_CLIENT_ID", default=""),
        "client_secret": env("PROSANTECONNECT_CLIENT_SECRET", default=""),
        "scope": env("PROSANTECONNECT_SCOPE", default="openid scope_all"),
        "acr_values": env.list("PROSANTECONNECT_ACR_VALUES", default=["eidas1"]),
        # The claim that carries the national identifier: "8" followed by the RPPS.
        "rpps_claim": env("PROSANTECONNECT_RPPS_CLAIM", default="SubjectNameID"),
    },
}

# Named limits and durations (DESIGN invariant 6 and 8): every rule reads them here.
CARNET = {
    "CODE_LENGTH": 12,
    "CGU_VERSION": "2026-11-26",
    "CODE_VALIDITY": timedelta(weeks=6),
    "CODE_REISSUE_MAX_PER_DAY": 3,
    "AUTO_CREATION_DELAY": timedelta(weeks=6),
    "CONTACT_CODE_VALIDITY": timedelta(minutes=15),
    "CONTACT_CODE_MAX_ATTEMPTS": 5,
    "CONTACT_CODE_MAX_SENDS": 5,  # per person and ACTIVATION_FAILURE_WINDOW
    "ACTIVATION_MAX_FAILURES_PER_NIR": 5,
    "ACTIVATION_MAX_FAILURES_PER_CLIENT": 20,
    "ACTIVATION_FAILURE_WINDOW": timedelta(hours=1),
    "ACTIVATION_LOCKOUT": timedelta(hours=1),
    "OTP_VALIDITY": timedelta(minutes=15),
    "OTP_MAX_ATTEMPTS": 5,
    "OTP_MAX_SENDS": 3,
    "OTP_SEND_WINDOW": timedelta(minutes=15),
    # Longer than OTP_VALIDITY, so that an expired code says so and a new one can be asked.
    "PENDING_LOGIN_VALIDITY": timedelta(minutes=30),
    "SESSION_ABSOLUTE_LIFETIME": timedelta(hours=12),
    # How often activity renews the idle timeout and the last activity of "Mes appareils".
    "SESSION_SEEN_INTERVAL": timedelta(minutes=1),
    "SESSION_WARNING_BEFORE": timedelta(minutes=2),  # the idle warning (JavaScript only)
    "REAUTH_VALIDITY": timedelta(minutes=10),
    # Passkeys (WebAuthn): a challenge is single-use and expires; how many keys per account.
    "PASSKEY_CHALLENGE_VALIDITY": timedelta(minutes=5),
    "PASSKEYS_MAX_PER_ACCOUNT": 10,
    # An authenticator's answer (an attestation with its certificates is a few kilobytes).
    "PASSKEY_CREDENTIAL_MAX_CHARS": 20_000,
    # Identity federation (OpenID Connect): the round trip to the provider must end in time.
    "FEDERATION_STATE_VALIDITY": timedelta(minutes=10),
    "FEDERATION_HTTP_TIMEOUT": timedelta(seconds=10),  # each call to a provider
    "REAUTH_MAX_FAILURES": 5,  # wrong current passwords (re-authentication, password change)
    # "Identifiant oublié ?" and "Mot de passe oublié ?"
    "RECOVERY_MAX_FAILURES_PER_NIR": 5,
    "RECOVERY_MAX_FAILURES_PER_CLIENT": 20,
    "RECOVERY_FAILURE_WINDOW": timedelta(hours=1),
    "RECOVERY_LOCKOUT": timedelta(hours=1),
    "IDENTIFIER_REMINDER_MAX_PER_DAY": 3,
    "PASSWORD_RESET_MAX_PER_CLIENT": 20,  # requests per RECOVERY_FAILURE_WINDOW
    "PASSWORD_RESET_VALIDITY": timedelta(minutes=30),  # from one step of the reset to the next
    "ACTIVITY_PAGE_SIZE": 50,
    "LOGIN_MAX_FAILURES_PER_IDENTIFIER": 10,
    "LOGIN_MAX_FAILURES_PER_CLIENT": 50,
    "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
    "LOGIN_LOCKOUT": timedelta(minutes=15),
    "ARCHIVE_RETENTION": timedelta(days=3652),
    "DELETION_CANCEL_WINDOW": timedelta(days=7),
    "IDENTIFIER_MIN_LENGTH": 8,
    "IDENTIFIER_MAX_LENGTH": 100,
    "PASSWORD_MIN_LENGTH": 12,
    "PASSWORD_MAX_LENGTH": 128,
    "IMPORT_BATCH_SIZE": 5000,
    "SEND_CODES_BATCH_SIZE": 2000,
    "AUTO_CREATION_BATCH_SIZE": 1000,
    "OUTBOX_MAX_ATTEMPTS": 5,
    "OUTBOX_RETRY_DELAY": timedelta(minutes=5),
    "ORPHAN_BLOB_AGE": timedelta(hours=1),
    # Documents
    "DOCUMENT_MAX_BYTES": DOCUMENT_MAX_BYTES,
    "DOCUMENT_TITLE_MAX_LENGTH": 50,
    "DOCUMENT_PAGE_SIZE": 20,
    "DOCUMENT_SEARCH_MAX_LENGTH": 100,
    "DOCUMENT_RETENTION": timedelta(days=30),  # in "Documents supprimés", then purged
    "IMAGE_MAX_PIXELS": 50_000_000,  # larger images are refused (decompression bombs)
    # The file checks (Pillow, pypdf) of an upload run in a child process with these bounds: a
    # hostile file that would take longer or more memory is refused, the web worker unharmed.
    "FILE_CHECK_CPU_SECONDS": 5,
    "FILE_CHECK_TIMEOUT_SECONDS": 10,
    "FILE_CHECK_MEMORY_BYTES": 768 * 1024 * 1024,
    "CARE_HISTORY_MONTHS": 24,
    # A result a professional withholds until the announcement consultation: the patient is
    # told a document waits after WITHHOLD_NOTICE_AFTER, and sees it at WITHHOLD_MAX at the latest.
    "WITHHOLD_NOTICE_AFTER": timedelta(days=14),
    "WITHHOLD_MAX": timedelta(days=30),
    # Professionals and access rules
    "EMERGENCY_ACCESS_DURATION": timedelta(hours=24),  # "bris de glace"
    "PRO_INVITATION_VALIDITY": timedelta(days=7),  # the activation link sent by invite_professional
    # "Trouver un patient": failed searches per professional before a pause
    "PRO_SEARCH_MAX_FAILURES": 10,
    "PRO_SEARCH_FAILURE_WINDOW": timedelta(hours=1),
    "PRO_SEARCH_LOCKOUT": timedelta(hours=1),
    # Agenda
    "AGENDA_REMINDERS_PER_DAY": 10,  # "Rappels" on one date, at most
    "AGENDA_ICS_MAX_BYTES": 1024 * 1024,  # an imported .ics file
    "AGENDA_ICS_MAX_EVENTS": 1000,  # events in one imported file
    # Prevention reminders: sent from the day before the item's due date, and still sent by a
    # sweep that ran late within this grace (never for items long past, e.g. at first run).
    "PREVENTION_NOTICE_GRACE": timedelta(days=7),
    # Secure messaging
    "MESSAGE_MAX_FILES": 10,  # attachments of one message
    "MESSAGE_MAX_BYTES": MESSAGE_BODY_MAX_BYTES,  # all attachments of one message (5 MB each)
    # A conversation the person deleted: hidden at once, erased for good after this.
    "MESSAGE_RETENTION": timedelta(days=30),
    # A patient's reply the professional's mail server did not take: tried again after 5 min,
    # then twice as long each time (6 h at most), given up after 8 attempts or a refusal (5xx).
    "MESSAGE_RELAY_MAX_ATTEMPTS": 8,
    "MESSAGE_RELAY_RETRY_DELAY": timedelta(minutes=5),
    "MESSAGE_RELAY_RETRY_MAX": timedelta(hours=6),
    # Linked profiles: an invitation to share a minor's management is valid this long; at most
    # this many legal representatives per minor.
    "FAMILY_INVITATION_VALIDITY": timedelta(days=30),
    "FAMILY_MAX_LEGAL_REPRESENTATIVES": 2,
    # Caregivers (proches aidants): at most this many per holder, and persons per caregiver.
    "FAMILY_MAX_CAREGIVERS": 3,
    "FAMILY_MAX_FOLLOWED": 5,
    # The coming-of-age notice goes this long before the 18th birthday.
    "FAMILY_MAJORITY_NOTICE_BEFORE": timedelta(days=30),
    # Share links ("Partager", carnet.sharing): valid 24 hours unless chosen otherwise, 30
    # days at most; at most this many open links per space and documents per link.
    "SHARE_DEFAULT_VALIDITY": timedelta(hours=24),
    "SHARE_MAX_VALIDITY": timedelta(days=30),
    "SHARE_MAX_ACTIVE": 10,
    "SHARE_MAX_DOCUMENTS": 20,
    "SHARE_LABEL_MAX_LENGTH": 60,
    "SHARE_PASSCODE_MIN_LENGTH": 4,
    "SHARE_PASSCODE_MAX_LENGTH": 32,
    # Wrong passcodes for one link before it is locked for SHARE_LOCKOUT; links that do not
    # serve (unknown, expired, revoked) opened by one client before it is paused as long.
    "SHARE_PASSCODE_MAX_FAILURES": 5,
    "SHARE_BAD_LINKS_PER_CLIENT": 20,
    "SHARE_FAILURE_WINDOW": timedelta(hours=1),
    "SHARE_LOCKOUT": timedelta(hours=1),
    # Connected apps: a consent lasts this long; the person is reminded of their connected
    # services this often.
    "CATALOGUE_CONNECTION_VALIDITY": timedelta(days=365),
    "CATALOGUE_REMINDER_EVERY": timedelta(days=90),
    "CATALOGUE_LOGO_MAX_BYTES": 200 * 1024,
    # FHIR API: results per search page (default, most), and the body of a write other than a
    # document (a measurement, an appointment).
    "FHIR_SEARCH_DEFAULT_COUNT": 20,
    "FHIR_SEARCH_MAX_COUNT": 100,
    "FHIR_SMALL_BODY_BYTES": 64 * 1024,
    # A logo is decoded only if it declares at most this many pixels a side (a forged PNG may
    # declare huge ones), then kept as a PNG of at most CATALOGUE_LOGO_SIDE a side.
    "CATALOGUE_LOGO_MAX_SOURCE_SIDE": 2048,
    "CATALOGUE_LOGO_SIDE": 512,
    # "Télécharger mes données" (exports): the file is offered EXPORT_VALIDITY, then deleted;
    # one export in progress per account, a new one EXPORT_COOLDOWN after the last (a failed
    # one does not count); a build silent for EXPORT_STALE_AFTER is taken over by the sweep, at
    # most EXPORT_MAX_ATTEMPTS builds in all; the ZIP is sealed in chunks of EXPORT_CHUNK_BYTES.
    "EXPORT_VALIDITY": timedelta(days=7),
    "EXPORT_COOLDOWN": timedelta(hours=24),
    "EXPORT_STALE_AFTER": timedelta(minutes=15),
    "EXPORT_MAX_ATTEMPTS": 3,
    "EXPORT_CHUNK_BYTES": 1024 * 1024,
    "WORKER_TICK_INTERVAL_SECONDS": 60,
}

# OAuth 2.0 / OpenID Connect / SMART on FHIR (django-oauth-toolkit, ADR 0019). Every model is
# ours (carnet.catalogue) so that grants and tokens belong to a patient's connection.
OAUTH2_PROVIDER_APPLICATION_MODEL = "catalogue.App"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "catalogue.AccessToken"  # noqa: S105 (a model name)
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "catalogue.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "catalogue.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "catalogue.IDToken"  # noqa: S105
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "catalogue.DeviceGrant"


# The OpenID signing key (RSA, PEM): OIDC_RSA_PRIVATE_KEY, or generated once into var/.
def _rsa_private_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


OIDC_RSA_PRIVATE_KEY = env("OIDC_RSA_PRIVATE_KEY", default=None) or _local_secret(
    "oidc_rsa.pem", _rsa_private_pem
)
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "carnet.catalogue.oauth.Validator",
    "OAUTH2_SERVER_CLASS": "carnet.catalogue.oauth.Server",
    "SCOPES_BACKEND_CLASS": "carnet.catalogue.oauth.Scopes",
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 90 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REQUEST_APPROVAL_PROMPT": "force",  # the consent screen every time
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list(
        "OAUTH_REDIRECT_SCHEMES", default=["https", "http"] if DEMO_MODE else ["https"]
    ),
    "ALLOW_LOCALHOST_LOOPBACK": DEMO_MODE,
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    # RFC 9700 (OAuth 2.0 Security BCP): PKCE S256 only, no implicit or password grant,
    # bearer tokens only in the header, and tokens kept as checksums, never in clear.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# The patients' messaging addresses: <INS>@<domain>. The SMTP gateway (carnet smtpd) listens on
# SMTPD_HOST:SMTPD_PORT, with STARTTLS from SMTPD_TLS_CERT / SMTPD_TLS_KEY (files).
CARNET_PATIENT_MAIL_DOMAIN = env("CARNET_PATIENT_MAIL_DOMAIN", default="patient.carnet.localhost")
SMTPD_HOST = env("CARNET_SMTPD_HOST", default="127.0.0.1")
SMTPD_PORT = env.int("CARNET_SMTPD_PORT", default=2525)
SMTPD_TLS_CERT = env("CARNET_SMTPD_TLS_CERT", default="")
SMTPD_TLS_KEY = env("CARNET_SMTPD_TLS_KEY", default="")
SMTPD_MAX_BYTES = env.int("CARNET_SMTPD_MAX_BYTES", default=30 * 1024 * 1024)
# Processes of `carnet smtpd` sharing the port (SO_REUSEPORT: the kernel spreads connections),
# each with SMTPD_DB_THREADS threads for the database work of its connections.
SMTPD_PROCESSES = env.int("CARNET_SMTPD_PROCESSES", default=1)
SMTPD_DB_THREADS = env.int("CARNET_SMTPD_DB_THREADS", default=4)
SMTPD_MAX_RECIPIENTS = 20  # RCPT TO accepted in one mail
SMTPD_AUTH_FAILURE_DELAY = 1.0  # seconds before a failed AUTH is answered
# Mails of one connection (one professional) read and checked in one child of the file
# checker before it is replaced (documents/checker.py, CheckerSession).
SMTPD_CHECKS_PER_CHILD = 100

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "carnet.core.logs.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "carnet.core.logs.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # CARNET_LOG_FORMAT=json in production: one JSON object per line, with request ids
            "formatter": env("CARNET_LOG_FORMAT", default="plain"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("CARNET_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},  # font subsetting chatter at each PDF
        # Their DEBUG lines carry authorization codes and tokens: never below WARNING.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
    },
}
