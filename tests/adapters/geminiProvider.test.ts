import { startFakeGemini } from "../fixtures/fakeLlmServers.js";
import { GeminiProvider } from "../../workers/providers/geminiProvider.js";
import { providerContract } from "./providerContract.js";

providerContract("Gemini", startFakeGemini, (server, opts) => new GeminiProvider({ ...opts, baseUrl: server.url }));
