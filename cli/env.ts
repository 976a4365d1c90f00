// Process-wide environment the CLI sets before anything else loads. Main
// thread, first import of main.ts: ES modules evaluate in import order, so
// this runs before any module that may build an AWS SDK client.
//
// The lockfile pins an SDK release that supports Node 20; its notice that
// later releases will not is noise to a CLI user. Set here only, not in the
// library: a program embedding s3mmap keeps the SDK's behaviour. The fault
// worker shares this environment (SHARE_ENV), so its clients stay quiet too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
