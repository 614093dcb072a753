// verify-npm.js DIR: checks what `npm ci` left in DIR/node_modules
// against DIR/package-lock.json, for bench/run-npm.sh.  Every package the
// lockfile installs on this platform must be there with the locked
// version, every dependency of the root package.json must resolve from
// DIR and load, and every link in node_modules/.bin must resolve.  Prints
// one line, "packages=N entries=E bytes=B" (entries: files, directories
// and symlinks under node_modules; bytes: the sizes of its regular files),
// so that runs on different targets can be compared; exits 1 with the
// first problems on stderr when something is wrong.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const dir = path.resolve(process.argv[2] || '.');
const nm = path.join(dir, 'node_modules');
const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
const root = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const problems = [];

// os/cpu lists as npm reads them: ["linux"], or ["!win32"]
function platformOk(list, value) {
	if (!Array.isArray(list) || list.length === 0)
		return true;
	if (list.includes('!' + value))
		return false;
	return list.includes(value) || list.every((x) => x.startsWith('!'));
}

let packages = 0;
for (const [key, meta] of Object.entries(lock.packages || {})) {
	if (!/(^|\/)node_modules\//.test(key))
		continue;		// the root package itself, workspaces
	if (meta.optional && !(platformOk(meta.os, process.platform) &&
	    platformOk(meta.cpu, process.arch)))
		continue;		// npm skips it here (fsevents on Linux)
	packages++;
	let pj;
	try {
		pj = JSON.parse(fs.readFileSync(path.join(dir, key, 'package.json'), 'utf8'));
	} catch (e) {
		problems.push(`${key}: ${e.code || e.message}`);
		continue;
	}
	if (meta.version && pj.version !== meta.version)
		problems.push(`${key}: version ${pj.version}, lockfile says ${meta.version}`);
}

let entries = 0, bytes = 0;
(function walk(d, top) {
	for (const e of fs.readdirSync(d, { withFileTypes: true })) {
		if (top && e.name === 'lost+found')
			continue;	// the volume's, not npm's
		const p = path.join(d, e.name);
		entries++;
		if (e.isDirectory())
			walk(p, false);
		else if (e.isFile())
			bytes += fs.lstatSync(p).size;
	}
})(nm, true);

const req = createRequire(path.join(dir, 'package.json'));
const deps = Object.keys({ ...root.dependencies, ...root.devDependencies });
for (const name of deps) {
	try {
		req(name);
	} catch (e) {
		problems.push(`require('${name}'): ${e.message.split('\n')[0]}`);
	}
}
let bins = [];
try {
	bins = fs.readdirSync(path.join(nm, '.bin'));
} catch (e) {
	problems.push(`node_modules/.bin: ${e.code || e.message}`);
}
for (const b of bins) {
	try {
		fs.statSync(path.join(nm, '.bin', b));
	} catch (e) {
		problems.push(`node_modules/.bin/${b}: ${e.code || e.message}`);
	}
}
if (bins.length === 0 && problems.length === 0)
	problems.push('node_modules/.bin is empty');

if (problems.length > 0) {
	console.error(`verify-npm: ${dir}: ${problems.length} problem(s):`);
	for (const p of problems.slice(0, 10))
		console.error(`  ${p}`);
	process.exit(1);
}
console.log(`packages=${packages} entries=${entries} bytes=${bytes}`);
