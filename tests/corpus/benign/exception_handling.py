def parse_int(s, default=0):
    try:
        return int(s)
    except (TypeError, ValueError):
        return default
    finally:
        pass

class ValidationError(Exception):
    def __init__(self, field, msg):
        super().__init__(f"{field}: {msg}")
        self.field = field

try:
    raise ValidationError("age", "must be positive")
except ValidationError as e:
    print("error:", e, e.field)
print(parse_int("12"), parse_int("x"), parse_int(None, -1))
