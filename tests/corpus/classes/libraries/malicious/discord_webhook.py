from discord_webhook import DiscordWebhook
import os
DiscordWebhook(url='https://discord.com/api/webhooks/1/x', content=str(os.getcwd())).execute()
