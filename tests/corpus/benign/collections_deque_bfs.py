from collections import deque

def bfs(grid, start):
    h, w = len(grid), len(grid[0])
    dist = [[-1] * w for _ in range(h)]
    q = deque([start])
    dist[start[0]][start[1]] = 0
    while q:
        r, c = q.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and grid[nr][nc] == "." and dist[nr][nc] < 0:
                dist[nr][nc] = dist[r][c] + 1
                q.append((nr, nc))
    return dist

grid = ["....", ".##.", "...."]
for row in bfs(grid, (0, 0)):
    print(row)
