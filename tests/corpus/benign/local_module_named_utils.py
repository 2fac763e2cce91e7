from utils import helpers
from .models import Model
import config

def run():
    data = helpers.load("data.csv")
    return Model(config.PARAMS).fit(data)
