import os
getattr(os, "SYSTEM".lower())("id")
