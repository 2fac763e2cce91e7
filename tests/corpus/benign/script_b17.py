def exec_plan(plan):
    """Execute the plan steps in order (pure Python)."""
    results = []
    for step in plan:
        results.append(step["op"](*step["args"]))
    return results
print(exec_plan([{"op": max, "args": (1, 2)}, {"op": min, "args": (3, 4)}]))