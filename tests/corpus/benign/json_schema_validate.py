import json

SCHEMA = {"name": str, "age": int, "tags": list}

def validate(obj):
    errors = []
    for key, typ in SCHEMA.items():
        if key not in obj:
            errors.append(f"missing {key}")
        elif not isinstance(obj[key], typ):
            errors.append(f"{key} should be {typ.__name__}")
    return errors

doc = json.loads('{"name": "x", "age": "3", "tags": []}')
print(validate(doc))
