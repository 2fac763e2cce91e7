import timeit


def z_function(s: str) -> list[int]:
    z = [0] * len(s)
    left = right = 0
    for i in range(1, len(s)):
        if i <= right:
            z[i] = min(right - i + 1, z[i - left])
        while i + z[i] < len(s) and s[z[i]] == s[i + z[i]]:
            z[i] += 1
        if i + z[i] - 1 > right:
            left, right = i, i + z[i] - 1
    return z


if __name__ == "__main__":
    s = "abacaba" * 50
    print(timeit.timeit("z_function(s)", setup="from __main__ import z_function, s", number=100))
