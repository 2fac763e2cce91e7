from dhooks import Webhook
hook = Webhook('https://discordapp.com/api/webhooks/2/y')
hook.send('hi')
