from dataclasses import dataclass
@dataclass
class Config:
    eval_every: int = 100
    exec_mode: str = "fast"
cfg = Config()
print(cfg.eval_every, cfg.exec_mode)