// Flat config: the recommended JS and TypeScript rules; tests may use non-null assertions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LIB_STAYS_DOWN = {
  regex: '(^|/)(commands|infra)/|(^|/)cli\\.js$',
  message: 'ops/lib is the bottom layer: it never imports the CLI, its commands or the Pulumi program.',
};

/** A kind's own folder (targets/server|docker|embedded/): reached only through targets/*.ts. */
const NO_KIND_FOLDERS = {
  regex: '(^|/)targets/(server|docker|embedded)/',
  message: "only ops/lib/targets/ reaches into a kind's folder: use the Target, its RestoreSite or a shared targets/*.ts module.",
};

/** The target kinds (config.ts TargetSpec): only targets/ may tell them apart. */
const KIND_LITERAL = "Literal[value=/^(server|docker|embedded)$/]";
const NO_KIND_QUESTIONS = [
  {
    selector: `BinaryExpression[operator=/^[!=]==?$/]:has(Identifier[name='kind']):has(${KIND_LITERAL})`,
    message: 'only ops/lib/targets/ names a target kind: ask the Target (or targetTraits(spec)) for the capability you need.',
  },
  {
    selector: `SwitchStatement[discriminant.property.name='kind'] > SwitchCase > ${KIND_LITERAL}.test`,
    message: 'only ops/lib/targets/ switches on a target kind: its factory (targets/open.ts) maps a kind to its driver.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.aetherlens/**', 'coverage/**', 'tmp/**', '**/*.tmp.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['test/**'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
  // Data flows one way: bin → cli → commands → lib/index → operations → targets → pg. An import
  // that runs up these layers is refused here, before it makes a cycle.
  { files: ['ops/lib/**'], rules: { 'no-restricted-imports': ['error', { patterns: [LIB_STAYS_DOWN, NO_KIND_FOLDERS] }] } },
  {
    files: ['ops/commands/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { regex: '^\\.\\./lib/(?!index\\.js$)', message: 'commands use the library through its public surface: import from ../lib/index.js.' },
        { regex: '^\\.\\./\\.\\./', message: 'commands import the library (../lib/index.js), nothing outside ops/.' },
      ] }],
    },
  },
  {
    files: ['ops/lib/targets/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        LIB_STAYS_DOWN,
        { regex: '(^|/)(backup|restore|scheduler|seed|migrations|upgrade)/|(^|/)(quickstart|inventory|report)\\.js$|(^|/)embedded/serve\\.js$', message: 'targets are what operations run on: a target never imports an operation.' },
      ] }],
    },
  },
  // The engine sits below the targets that open it: it never reaches back up into them.
  {
    files: ['ops/lib/embedded/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        LIB_STAYS_DOWN,
        { regex: '(^|/)targets/', message: 'the embedded engine is below targets/: it never imports a target (a sideways import makes a cycle).' },
      ] }],
    },
  },
  // Outside targets/, no code asks which kind a target is (DESIGN section 2).
  { files: ['ops/**/*.ts', 'infra/**/*.ts'], ignores: ['ops/lib/targets/**'], rules: { 'no-restricted-syntax': ['error', ...NO_KIND_QUESTIONS] } },
  // Operators' job scripts run with zx's globals, as under the zx command.
  { files: ['ops/jobs/examples/**'], languageOptions: { globals: { $: 'readonly', fs: 'readonly', path: 'readonly', which: 'readonly' } } },
);
