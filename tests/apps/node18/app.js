// No Procfile and no start script: the buildpack's default web process is `node app.js`.
const fs = require("fs");
const http = require("http");

function size(path) {
  try {
    return String(fs.statSync(path).size);
  } catch (err) {
    return "missing";
  }
}

http
  .createServer((req, res) => {
    res.end(`node ${process.version} at ${process.execPath}; host node size ${size("/usr/bin/node")}`);
  })
  .listen(process.env.PORT);
