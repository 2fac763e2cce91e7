from flask import Flask, jsonify, request
import os
app = Flask(__name__)
DB = {}
@app.route("/items/<name>", methods=["GET", "PUT"])
def item(name):
    if request.method == "PUT":
        DB[name] = request.get_json()
    return jsonify(DB.get(name))
if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", 5000)))