'use strict';

const DEFAULT_OPTIONS = { retries: 3, delayMs: 200, timeoutMs: 5000 };

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

async function fetchWithRetry(url, options = {}) {
  const { retries, delayMs, timeoutMs } = { ...DEFAULT_OPTIONS, ...options };
  let lastError = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(url, { signal: controller.signal });
      if (!response.ok) {
        throw new HttpError(response.status, `request failed: ${response.statusText}`);
      }
      return await response.json();
    } catch (error) {
      lastError = error;
      if (error instanceof HttpError && error.status < 500) {
        break;
      }
      await sleep(delayMs * 2 ** attempt);
    } finally {
      clearTimeout(timer);
    }
  }
  throw lastError;
}

function groupBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    if (!groups.has(key)) {
      groups.set(key, []);
    }
    groups.get(key).push(item);
  }
  return groups;
}

async function main() {
  const users = await fetchWithRetry('https://example.com/api/users');
  const byCountry = groupBy(users, (user) => user.country);
  for (const [country, members] of byCountry) {
    console.log(`${country}: ${members.length}`);
  }
}

module.exports = { fetchWithRetry, groupBy, HttpError };

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
