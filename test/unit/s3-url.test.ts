// parseS3Url / formatS3Url: what users type on the command line and in the API.
// Vitest 'unit' project (imports the TypeScript sources), test-file thread.
import { describe, expect, it } from 'vitest';
import { S3MmapError } from '../../lib/shared/errors.js';
import { formatS3Url, isHttpEndpoint, parseS3Url, shownEndpoint } from '../../lib/s3/url.js';

function invalid(input: Parameters<typeof parseS3Url>[0], opts?: Parameters<typeof parseS3Url>[1]): S3MmapError {
  try {
    parseS3Url(input, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(S3MmapError);
    const err = e as S3MmapError;
    expect(err.code).toBe('InvalidURL');
    expect(err.message).toMatch(/^s3mmap: /);
    expect(err.message).not.toMatch(/\n/);
    return err;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('parseS3Url', () => {
  it('splits bucket and key at the first slash', () => {
    expect(parseS3Url('s3://my-bucket/a/b/c.parquet')).toEqual({ bucket: 'my-bucket', key: 'a/b/c.parquet' });
    expect(parseS3Url('S3://my.bucket/x')).toEqual({ bucket: 'my.bucket', key: 'x' });
  });

  it('keeps the key literally: no percent-decoding, ? and # and + are part of it', () => {
    for (const key of ['with space.bin', 'ünïcødé/файл.bin', 'a+b.bin', 'q?x=1&y=2', 'hash#frag', '%41%20', 'a//b', ' lead', 'tab\there']) {
      expect(parseS3Url(`s3://bkt/${key}`)).toEqual({ bucket: 'bkt', key });
    }
  });

  it('accepts a { bucket, key } object and checks it the same way', () => {
    expect(parseS3Url({ bucket: 'bkt', key: 'k' })).toEqual({ bucket: 'bkt', key: 'k' });
    invalid({ bucket: 'B', key: 'k' });
    invalid({ bucket: 'bkt', key: '' });
    invalid({ bucket: 'bkt' } as never);
    invalid(null as never);
  });

  it('rejects what is not an s3:// URL, with a message that shows the expected form', () => {
    const err = invalid('https://bkt.s3.amazonaws.com/k');
    expect(err.message).toContain("must start with 's3://'");
    expect(err.message).toContain('s3://bucket/key');
    invalid('bkt/k');
    invalid('');
    invalid('s3:/bkt/k');
    // 's3://' must be where the URL starts, not anywhere in it.
    expect(invalid('xs3://bkt/k').message).toContain("must start with 's3://'");
    expect(invalid('see s3://bkt/k').message).toContain("must start with 's3://'");
  });

  it('rejects a missing bucket or key', () => {
    expect(invalid('s3://').message).toContain('bucket name is missing');
    expect(invalid('s3:///k').message).toContain('bucket name is missing');
    expect(invalid('s3://bkt').message).toContain('key is missing');
    expect(invalid('s3://bkt/').message).toContain('key is missing');
    expect(invalid('s3://bkt/dir/').message).toContain('folder');
  });

  it('allows a bare bucket or prefix when asked (listing)', () => {
    expect(parseS3Url('s3://bkt', { allowPrefix: true })).toEqual({ bucket: 'bkt', key: '' });
    expect(parseS3Url('s3://bkt/', { allowPrefix: true })).toEqual({ bucket: 'bkt', key: '' });
    expect(parseS3Url('s3://bkt/dir/', { allowPrefix: true })).toEqual({ bucket: 'bkt', key: 'dir/' });
  });

  it('applies S3 bucket naming rules', () => {
    for (const ok of ['abc', 'a-b.c', '0bucket', 'a'.repeat(63)]) expect(parseS3Url(`s3://${ok}/k`).bucket).toBe(ok);
    for (const bad of ['ab', 'a'.repeat(64), 'Bucket', 'under_score', '-abc', 'abc-', 'a..b', '192.168.1.1', 'sp ace']) {
      expect(invalid(`s3://${bad}/k`).message).toContain('not a valid bucket name');
    }
  });

  it('rejects keys over 1024 UTF-8 bytes', () => {
    expect(parseS3Url(`s3://bkt/${'k'.repeat(1024)}`).key).toHaveLength(1024);
    invalid(`s3://bkt/${'k'.repeat(1025)}`);
    invalid(`s3://bkt/${'é'.repeat(513)}`); // 1026 bytes
  });

  it('keeps a hostile input on one line in the message', () => {
    const err = invalid('s3://bkt\n/evil');
    expect(err.message.split('\n')).toHaveLength(1);
  });
});

describe('formatS3Url', () => {
  it('round-trips through parseS3Url', () => {
    for (const loc of [{ bucket: 'bkt', key: 'a b/c?d#e+f' }, { bucket: 'x.y-z', key: 'ü' }]) {
      expect(parseS3Url(formatS3Url(loc))).toEqual(loc);
    }
  });
});

describe('parseS3Url: the messages, word for word', () => {
  const message = (input: string, opts?: Parameters<typeof parseS3Url>[1]) => invalid(input, opts).message;

  it('each reason', () => {
    expect(message('http://bucket/key')).toBe("s3mmap: bad S3 URL 'http://bucket/key': it must start with 's3://'; write it as s3://bucket/key");
    expect(message('s3:///k')).toBe("s3mmap: bad S3 URL 's3:///k': the bucket name is missing; write it as s3://bucket/key");
    expect(message('s3://bkt')).toBe("s3mmap: bad S3 URL 's3://bkt': the object key is missing; write it as s3://bucket/key");
    expect(message('s3://bkt/d/')).toBe("s3mmap: bad S3 URL 's3://bkt/d/': the key ends with '/', which names a folder, not an object; write it as s3://bucket/key");
    expect(message(`s3://bkt/${'k'.repeat(1025)}`)).toContain(': the key is longer than 1024 bytes; write it as s3://bucket/key');
    expect(message('s3://Bad/k')).toBe("s3mmap: bad S3 URL 's3://Bad/k': 'Bad' is not a valid bucket name (3-63 characters: lowercase letters, digits, '.', '-'; starting and ending with a letter or digit); write it as s3://bucket/key");
  });

  it('a { bucket, key } is shown as the URL it stands for', () => {
    expect(invalid({ bucket: 'bkt', key: '' }).message).toBe("s3mmap: bad S3 URL 's3://bkt/': the object key is missing; write it as s3://bucket/key");
    expect(invalid({ bucket: 1, key: 'k' } as never).message).toBe("s3mmap: expected an 's3://bucket/key' string or { bucket, key } with string fields");
    expect(invalid({ bucket: 'bkt', key: 5 } as never).code).toBe('InvalidURL');
  });

  it('bucket names at their limits, and the forms S3 forbids', () => {
    // Only a whole IPv4 address is refused: these merely contain one.
    for (const ok of ['abc', 'a'.repeat(63), '1.2.3', 'a-1', 'x.y.z', '192.168.1.1a', 'a1.2.3.4', '1.2.3.4.5']) expect(parseS3Url(`s3://${ok}/k`).bucket).toBe(ok);
    for (const bad of ['a', 'ab', 'a'.repeat(64), '.abc', 'abc.', 'a..b', '10.0.0.1', 'ABC', 'a_b']) {
      expect(invalid(`s3://${bad}/k`).message, bad).toContain(`'${bad}' is not a valid bucket name`);
    }
  });

  it('a key of exactly 1024 bytes in a prefix listing is fine; a prefix may end with a slash only when allowed', () => {
    expect(parseS3Url(`s3://bkt/${'é'.repeat(512)}`).key).toHaveLength(512);
    expect(parseS3Url('s3://bkt/a/', { allowPrefix: true }).key).toBe('a/');
    expect(invalid(`s3://bkt/${'k'.repeat(1025)}`, { allowPrefix: true }).message).toContain('longer than 1024 bytes');
  });
});

describe('isHttpEndpoint and shownEndpoint', () => {
  it('only http(s) URLs with a host', () => {
    for (const ok of ['http://127.0.0.1:9000', 'https://s3.amazonaws.com', 'HTTP://host/', 'https://user:pw@host:1/path']) expect(isHttpEndpoint(ok), ok).toBe(true);
    for (const bad of ['ftp://host/', 'host:9000', '', 's3://bkt/k', 'file:///etc/passwd', 'http://', 'not a url']) expect(isHttpEndpoint(bad), bad).toBe(false);
  });

  it('drops user info and keeps 80 characters', () => {
    expect(shownEndpoint('https://AKID:secret@host:9000/x')).toBe('https://host:9000/x');
    expect(shownEndpoint('http://host:9000')).toBe('http://host:9000');
    expect(shownEndpoint(`http://${'h'.repeat(100)}`)).toHaveLength(80);
  });
});
