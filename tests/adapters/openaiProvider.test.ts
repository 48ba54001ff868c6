import { startFakeOpenAi } from "../fixtures/fakeLlmServers.js";
import { OpenAiProvider } from "../../workers/providers/openaiProvider.js";
import { providerContract } from "./providerContract.js";

providerContract("OpenAI", startFakeOpenAi, (server, opts) => new OpenAiProvider({ ...opts, baseURL: server.url }));
