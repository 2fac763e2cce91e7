import os
def env_bool(name, default=False):
    v = os.environ.get(name)
    return default if v is None else v.lower() in ("1", "true", "yes")
def env_int(name, default):
    try:
        return int(os.getenv(name, default))
    except ValueError:
        return default
print(env_bool("VERBOSE"), env_int("RETRIES", 3))