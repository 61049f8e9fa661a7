// Text questions: the `text-choice` input (a question and its labelled options), as the protocol
// encodes it, and which task kinds an agent's model answers.

/** The task kind of the digit agents: a JSON tensor of f32 values. */
export const DIGIT_KIND = 'tensor-f32';
/** The task kind of a multiple-choice question; the answer is an option label. */
export const CHOICE_KIND = 'text-choice';
/** The task kind of a free-form question. */
export const TEXT_KIND = 'text';
/** Longest question the protocol accepts, in UTF-8 bytes. */
export const MAX_QUESTION_BYTES = 8192;
/** Fewest and most options of a multiple-choice question. */
export const MIN_CHOICES = 2;
export const MAX_CHOICES = 26;

/** The `text-choice` input: `{ question, choices, labels? }`; labels default to A, B, C, …. */
export interface ChoiceInput {
  question: string;
  choices: string[];
  labels?: string[];
}

/** The default label of option `i`: A, B, C, …. */
export function label(i: number): string {
  return String.fromCharCode(65 + (i % 26));
}

/** The labels of a question's options: its own, or A, B, C, …. */
export function labelsOf(input: ChoiceInput): string[] {
  return input.labels && input.labels.length ? input.labels : input.choices.map((_, i) => label(i));
}

/** The input typed in, or a message that says what is wrong with it. */
export function parseChoice(question: string, options: string[]): ChoiceInput | string {
  const q = question.trim();
  if (!q) return 'Type a question first.';
  const bytes = new TextEncoder().encode(q).length;
  if (bytes > MAX_QUESTION_BYTES) return `The question is ${bytes} bytes long; at most ${MAX_QUESTION_BYTES} are accepted.`;
  const choices = options.map((o) => o.trim());
  const empty = choices.findIndex((c) => !c);
  if (empty >= 0) return `Option ${label(empty)} is empty: type it, or remove it.`;
  if (choices.length < MIN_CHOICES) return `Give at least ${MIN_CHOICES} options (there ${choices.length === 1 ? 'is 1' : `are ${choices.length}`}).`;
  if (choices.length > MAX_CHOICES) return `Give at most ${MAX_CHOICES} options (there are ${choices.length}).`;
  const seen = new Map<string, number>();
  for (const [i, c] of choices.entries()) {
    const key = c.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) return `Options ${label(first)} and ${label(i)} are the same (“${c}”): each option must differ.`;
    seen.set(key, i);
  }
  const total = bytes + choices.reduce((n, c) => n + new TextEncoder().encode(c).length, 0);
  if (total > MAX_QUESTION_BYTES) return `The question and its options are ${total} bytes long; keep them within ${MAX_QUESTION_BYTES} so that they fit the models’ prompts.`;
  return { question: q, choices };
}

/** The input's JSON as it goes on chain (the same fields and order as the protocol's). */
export function encodeChoice(input: ChoiceInput): string {
  return JSON.stringify(input.labels && input.labels.length ? input : { question: input.question, choices: input.choices });
}

/** A job input decoded as a multiple-choice question, or undefined if it is not one. */
export function decodeChoice(text: string): ChoiceInput | undefined {
  try {
    const value = JSON.parse(text) as Partial<ChoiceInput>;
    if (typeof value.question !== 'string' || !Array.isArray(value.choices) || !value.choices.every((c) => typeof c === 'string')) return undefined;
    const labels = Array.isArray(value.labels) && value.labels.every((l) => typeof l === 'string') ? value.labels : undefined;
    return { question: value.question, choices: value.choices, ...(labels ? { labels } : {}) };
  } catch {
    return undefined;
  }
}

/** An answer with its option's text when it is one of the question's labels: `B — Paris`. */
export function describeAnswer(input: ChoiceInput | undefined, answer: string): string {
  if (!input) return answer;
  const i = labelsOf(input).indexOf(answer);
  return i >= 0 ? `${answer} — ${input.choices[i]}` : answer;
}

/** The task kinds an agent's model answers, from its name (`nsed://model/<name>`): the digit
 * classifiers (scikit-learn models, `knn_…`, `logreg_…`) answer `tensor-f32`; the language-model
 * agents (SmolLM2, Gemma, or a name that says its prompting) answer `text-choice` and `text`. An
 * unknown name answers nothing the page knows of. */
export function kindsOfModel(name: string): string[] {
  const n = name.toLowerCase();
  if (/^(knn|mlp|logreg|gnb|tree|svm|forest|rf|cnn|digits?)[_-]/.test(n)) return [DIGIT_KIND];
  if (/(smollm|gemma|llama|qwen|phi|mistral|gpt|llm)|(few-shot|plain|chat)$/.test(n)) return [CHOICE_KIND, TEXT_KIND];
  return [];
}
