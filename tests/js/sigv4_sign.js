// Sign requests with the npm `aws4` package (the signer Postman-style clients use), for tests/test_sigv4.py.
//
// stdin:  a JSON array of {method, host, path (with ?query), headers: [[name, value], ...],
//         body_b64, service, region, access_key_id, secret_access_key, session_token?}
//         Put X-Amz-Date in `headers` to pin the signing time.
// stdout: a JSON array of {path, headers: [[name, value], ...]}: what the client puts on the wire.
'use strict'

const aws4 = require('aws4')

function sign(spec) {
  const headers = {}
  for (const [name, value] of spec.headers) headers[name] = value
  const request = {
    method: spec.method,
    host: spec.host,
    path: spec.path,
    headers,
    body: Buffer.from(spec.body_b64, 'base64'),
    service: spec.service,
    region: spec.region,
  }
  const credentials = {
    accessKeyId: spec.access_key_id,
    secretAccessKey: spec.secret_access_key,
  }
  if (spec.session_token) credentials.sessionToken = spec.session_token
  const signed = aws4.sign(request, credentials)
  return {
    path: signed.path,
    headers: Object.entries(signed.headers).map(([name, value]) => [name, String(value)]),
  }
}

const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const specs = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  process.stdout.write(JSON.stringify(specs.map(sign)))
})
