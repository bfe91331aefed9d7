// Run a Postman collection with newman's library API, for tests/acceptance/test_reference_client.py.
//
// stdin:  {collection: path, folder: name, variables: {name: value, ...}} (variables go in as environment
//         values, which override the collection's own).
// stdout: a JSON array with one entry per executed request, in order:
//         {name, method, url, headers: [[name, value], ...], request_body, status, body} as newman sent and
//         received them, or {name, method, url, headers, request_body, error} when no response came.
// Exits non-zero only when newman itself fails (a bad collection, a missing folder).
'use strict'

const fs = require('fs')
const newman = require('newman')

function sentHeaders(request) {
  return request.headers.all().filter((header) => !header.disabled).map((header) => [header.key, header.value])
}

function execution(args, error) {
  const sent = {
    name: args.item.name,
    method: args.request.method,
    url: args.request.url.toString(),
    headers: sentHeaders(args.request),
    request_body: args.request.body ? args.request.body.toString() : '',
  }
  if (error) return { ...sent, error: String(error.message || error) }
  return { ...sent, status: args.response.code, body: args.response.text() }
}

const spec = JSON.parse(fs.readFileSync(0, 'utf8'))
const executions = []
newman
  .run({
    collection: JSON.parse(fs.readFileSync(spec.collection, 'utf8')),
    folder: spec.folder,
    envVar: Object.entries(spec.variables).map(([key, value]) => ({ key, value })),
  })
  .on('request', (error, args) => executions.push(execution(args, error)))
  .on('done', (error) => {
    if (error) {
      process.stderr.write(`newman failed: ${error.message || error}\n`)
      process.exitCode = 1
      return
    }
    process.stdout.write(JSON.stringify(executions))
  })
