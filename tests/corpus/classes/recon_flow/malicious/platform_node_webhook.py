import platform
from discord_webhook import DiscordWebhook
DiscordWebhook(url='u', content=platform.node()).execute()
